const API_BASE = process.env.API_BASE;
const token = localStorage.getItem('theme');
const apiKey = process.env.MAPS_API_KEY;
const buildHash = 'e89da21bbddcf074ca958a24715240f14fdef9db';
const nonce = 't+DFqiZ1IHTG2ADKO8670Q==';
const sessionId = '8bc84404-3213-c622-1bfe-db3d845eaf46';
const secretsPage = '/settings/secrets';
const passwordRules = /^(?=.*[A-Z])(?=.*\d).{12,}$/;
const url = 'https://user@example.com/profile';
// sha256: 25b94a361b6ebdcdcc92c0da3f0df8deaa6a890619e3db9a6aff562664355171
const TOKEN_KEY = 'auth_token';
export const AUTH_TOKEN_HEADER = 'X-Auth-Token';
