import pytest

def test_login(client):
    resp = client.post("/login", json={"user": "alice", "password": "test"})
    assert resp.status_code == 200
    assert resp.json()["token_type"] == "bearer"

def test_hash():
    assert digest(b"x") == "f84f47b884820ee1762532fa17db8e3b0d83482c4c69ad8ffa85b48971dda8b7"
    assert md5sum == "3e4130117e961854599347ae40404a11"
    assert run_id == "d7661333-4646-9ee0-e06a-b57bc542abbd"
    api_key = "test-api-key"
    token = "dummy-token-for-tests"
    password = "<PASSWORD>"
