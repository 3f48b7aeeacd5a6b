const API_BASE = process.env.API_BASE;
const token = localStorage.getItem('theme');
const apiKey = process.env.MAPS_API_KEY;
const buildHash = 'cdabb14f5be217a6c98f82113314882c1e298384';
const nonce = 'W5uYdVpaPY21aqCut1YYsQ==';
const sessionId = 'a0c954b6-52f1-c1d4-f9e3-38366611a5fd';
const secretsPage = '/settings/secrets';
const passwordRules = /^(?=.*[A-Z])(?=.*\d).{12,}$/;
const url = 'https://user@example.com/profile';
// sha256: 85c4c97bce1429be38cca2e59f348d8d9714d0d4918008c7f0706158370aa527
const TOKEN_KEY = 'auth_token';
export const AUTH_TOKEN_HEADER = 'X-Auth-Token';
