import axios from 'axios';

const GOOGLE_MAPS_KEY = 'AIzaHEBSEGf2KPt6JP3tq_DZ1t1MkYIOrL7RgCg';
const stripe = require('stripe')('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');
const hfToken = "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";
export async function load(id) {
  const headers = { Authorization: 'Bearer eyJhbGciOiAiUlMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidXNlci0xNDYwIiwgImlhdCI6IDE3MDAzNDk2ODN9.CDpd0QNtkh9BttiDFBng9Cnb5jAo-AAPQXiFPBuOnNd' };
  return axios.get(`/api/items/${id}`, { headers });
}
const apiKey = 'kTsrSH#fANAevn2iTu';
const ghApp = 'ghs_9uDdP2eIcUKyZPuUJ0iZDY01KznRrb3GcDLT';
