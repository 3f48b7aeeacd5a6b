"""Settings for the orders service."""
import os

DEBUG = False
AWS_ACCESS_KEY_ID = "AKIAJWHDBO2UGC4BGBD2"
AWS_SECRET_ACCESS_KEY = "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"
STRIPE_SECRET_KEY = "sk_live_LULml93oxO8rtf0LaiYhbkfj"
SENDGRID_API_KEY = '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'
ALLOWED_HOSTS = ['orders.internal']
DATABASES = {"default": "postgresql://orders:xfdeAi-IuXpBo2@db.internal:5432/orders"}
SECRET_KEY = "dnDn1zBbES#UrFkL+ycuaIfT()fAgyldrghqWco@zb9JM5*+eQ"
TIME_ZONE = 'UTC'
