import axios from 'axios';

const GOOGLE_MAPS_KEY = 'AIzanUUy9n1wFPLeoIoevzVoK2U3CH7FNdjIlq-';
const stripe = require('stripe')('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');
const hfToken = "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";
export async function load(id) {
  const headers = { Authorization: 'Bearer eyJhbGciOiAiUlMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAidXNlci00MDAxIiwgImlhdCI6IDE3MDAwMzY0OTJ9.wxY0w3INHdjcvS4OpY7nyPqrgn98hnAwQhAACSr7JVS' };
  return axios.get(`/api/items/${id}`, { headers });
}
const apiKey = 'YTmQLf-YrKWumrfpv0';
const ghApp = 'ghs_SBZyhlLBWOeDC2k3Ei29oJDrcWgvVm3tqOjI';
