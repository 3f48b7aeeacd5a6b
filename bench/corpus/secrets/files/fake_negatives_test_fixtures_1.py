import pytest

def test_login(client):
    resp = client.post("/login", json={"user": "alice", "password": "test"})
    assert resp.status_code == 200
    assert resp.json()["token_type"] == "bearer"

def test_hash():
    assert digest(b"x") == "b645a9e295df3feef1573edd7e34d98dd5321cdb0856c222f9b519db6cd77add"
    assert md5sum == "cd19034e8ae513e9bdd11852c8d78369"
    assert run_id == "730235a5-47ea-e315-ebb2-c4504abf9169"
    api_key = "test-api-key"
    token = "dummy-token-for-tests"
    password = "<PASSWORD>"
