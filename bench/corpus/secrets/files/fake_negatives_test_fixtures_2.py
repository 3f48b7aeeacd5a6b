import pytest

def test_login(client):
    resp = client.post("/login", json={"user": "alice", "password": "test"})
    assert resp.status_code == 200
    assert resp.json()["token_type"] == "bearer"

def test_hash():
    assert digest(b"x") == "9d639794ad2427a9602d65f4d8a217d4d7d6fd5cf6dad10cf728c2ed02153579"
    assert md5sum == "f0b2f2f96532b991607899e151e5eab4"
    assert run_id == "803c074d-7de3-6de0-75f3-3fd02dde5f71"
    api_key = "test-api-key"
    token = "dummy-token-for-tests"
    password = "<PASSWORD>"
