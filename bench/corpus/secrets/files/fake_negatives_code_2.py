import os
import hashlib
PASSWORD_FIELD = "password_hash"
password = os.environ['DB_PASSWORD']
token = os.getenv("API_TOKEN")
api_key = settings.api_key
secret = "changeme"
DEFAULT_PASSWORD = "password123"
EXPECTED_DIGEST = "c0187810347d935bdd7f73dc02a638f74b0e7aa6e232498d2430c4f18291539e"
REQUEST_ID = "6e168732-35d6-9394-3af3-16f934f24b65"
CACHE_KEY_PREFIX = "orders:98fdde3dfa18b9d60fb18b6028672c5c"
TOKEN_URL = "https://login.example.org/oauth2/token"
password_reset_template = "emails/password_reset.html"
def check(password: str) -> bool:
    return hashlib.sha256(password.encode()).hexdigest() == EXPECTED_DIGEST
GIT_SHA = "67fad97ff05cea997ab39fcd29dc42e79482e0de"
ICON = "data:image/png;base64,AMktPaKeviiloDBh7XP+V3vVzv3ll2DN8wqjIjBcyE7qHXOcNB4iLUIw2VZoVvMX"
bad_token = "ghp_tFoJtrmqVcIfTIVx8e3g75lKLTOBLJAAAAAA"  # checksum does not match
secret_name = "orders/stripe"  # a Strongroom secret id, not a value
client = Client(token=get_token())
token_type = "Bearer"
color = "#ff00aa"
