import os
import hashlib
PASSWORD_FIELD = "password_hash"
password = os.environ['DB_PASSWORD']
token = os.getenv("API_TOKEN")
api_key = settings.api_key
secret = "changeme"
DEFAULT_PASSWORD = "password123"
EXPECTED_DIGEST = "66d059546aa20394514cb3011a3e8c980e7ac0f552edb8008019808011196270"
REQUEST_ID = "59bd42b5-c62c-a514-70d0-01dcc182cab1"
CACHE_KEY_PREFIX = "orders:737b8b6478d0143f1bbd6c1509a9f69e"
TOKEN_URL = "https://login.example.org/oauth2/token"
password_reset_template = "emails/password_reset.html"
def check(password: str) -> bool:
    return hashlib.sha256(password.encode()).hexdigest() == EXPECTED_DIGEST
GIT_SHA = "fc8376ead9467737612ab3e6a89eceb930501ff7"
ICON = "data:image/png;base64,OgBx34AoB1apDAbJOoApActYGOCONmzhaHR6MGFES6sBVklLQfdZ9BMBSgQp5SCY"
bad_token = "ghp_vqQv2MmSBvTVuSuZj6yBUvVOuUBHRLAAAAAA"  # checksum does not match
secret_name = "orders/stripe"  # a Strongroom secret id, not a value
client = Client(token=get_token())
token_type = "Bearer"
color = "#ff00aa"
