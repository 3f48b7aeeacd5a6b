import axios from 'axios';

const GOOGLE_MAPS_KEY = 'AIzaFEkxRD_SaULHdp0cFfeVbkIStbHRb3KEE0p';
const stripe = require('stripe')('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');
const hfToken = "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";
export async function load(id) {
  const headers = { Authorization: 'Bearer eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidXNlci0zNTY1IiwgImlhdCI6IDE3MDA4OTQwNjV9._kzWzoY4PvTpVe7T0eQgZGsyAbn3JMXNS4z2RCitr5n' };
  return axios.get(`/api/items/${id}`, { headers });
}
const apiKey = 'fDkulz-nSTBCou9NEj';
const ghApp = 'ghs_bjfDYUM2nyoKDbaRoIMxWd8Gcqo28p2NYgzq';
