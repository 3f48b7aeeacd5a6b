"""Settings for the orders service."""
import os

DEBUG = False
AWS_ACCESS_KEY_ID = "AKIAJY6JTQLQXH75ZQMX"
AWS_SECRET_ACCESS_KEY = "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"
STRIPE_SECRET_KEY = "sk_live_K90wK1uQWjp85b7v9YmPCdyQ"
SENDGRID_API_KEY = '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'
ALLOWED_HOSTS = ['orders.internal']
DATABASES = {"default": "postgresql://orders:THbtFR%6FxskAG@db.internal:5432/orders"}
SECRET_KEY = "K-L_6xeqVcT=&apLe#iFHTZ2_77BSo-i!v&TfjSSN)vLTtF+@p"
TIME_ZONE = 'UTC'
