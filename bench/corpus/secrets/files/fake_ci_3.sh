#!/bin/sh
set -eu
export GH_PAT=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
curl -u deploy:xTQGQG%qps2em4 https://registry.internal/v2/
git clone https://ci-bot: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@github.com/acme/app.git
export GOOGLE_CLIENT_SECRET=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
mysql "mysql://root:FYSGTI+8n7vELI@10.0.3.7:3306/crm"
echo done
