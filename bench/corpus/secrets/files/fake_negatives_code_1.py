import os
import hashlib
PASSWORD_FIELD = "password_hash"
password = os.environ['DB_PASSWORD']
token = os.getenv("API_TOKEN")
api_key = settings.api_key
secret = "changeme"
DEFAULT_PASSWORD = "password123"
EXPECTED_DIGEST = "7002274d07d96a831a66f1d07ed50cc1d6e490a9a9bed02e8142ed630c6f2b41"
REQUEST_ID = "268597fd-a5ee-523d-a47d-43bdf3feb1f0"
CACHE_KEY_PREFIX = "orders:478b1b38cef8c8be6d38b028129fd0b4"
TOKEN_URL = "https://login.example.org/oauth2/token"
password_reset_template = "emails/password_reset.html"
def check(password: str) -> bool:
    return hashlib.sha256(password.encode()).hexdigest() == EXPECTED_DIGEST
GIT_SHA = "50a45887d8616bf83166326d8c0909e7ca801863"
ICON = "data:image/png;base64,Lqcl1nCgv2JkTdqNHF4XELj9MnQ8hNCBEfIj3OcbPr/bB5aQ70VRjzqfzhw6mYkB"
bad_token = "ghp_Lcswb4B8MU7Btba8RWKTyULC8TSlDOAAAAAA"  # checksum does not match
secret_name = "orders/stripe"  # a Strongroom secret id, not a value
client = Client(token=get_token())
token_type = "Bearer"
color = "#ff00aa"
