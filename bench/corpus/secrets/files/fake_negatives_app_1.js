const API_BASE = process.env.API_BASE;
const token = localStorage.getItem('theme');
const apiKey = process.env.MAPS_API_KEY;
const buildHash = 'a39d0d6dcdbbb7a61bef7788a8d40404811c2cbf';
const nonce = '+oyUgMVdNpzQMUHpY6E5Wg==';
const sessionId = 'f6dd93b6-3ff7-8d5e-b4b8-9278a63138fa';
const secretsPage = '/settings/secrets';
const passwordRules = /^(?=.*[A-Z])(?=.*\d).{12,}$/;
const url = 'https://user@example.com/profile';
// sha256: 1d6d434672dac4e8a2eb020fc536a3a998aa87b2dfc4ef5ef76236d3085f5670
const TOKEN_KEY = 'auth_token';
export const AUTH_TOKEN_HEADER = 'X-Auth-Token';
