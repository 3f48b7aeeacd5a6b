"""Settings for the orders service."""
import os

DEBUG = False
AWS_ACCESS_KEY_ID = "AKIAB3SKCZTKMBF6JDPY"
AWS_SECRET_ACCESS_KEY = "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"
STRIPE_SECRET_KEY = "sk_live_JC6RQuFlBnDomtQhA14VqnPa"
SENDGRID_API_KEY = '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'
ALLOWED_HOSTS = ['orders.internal']
DATABASES = {"default": "postgresql://orders:aMkXps!CoKaEF7@db.internal:5432/orders"}
SECRET_KEY = "3+r4cX_eU7DpGDB&aF*Xx6sDYZfy_X-I8q6k*)eblhnI_n^XpY"
TIME_ZONE = 'UTC'
