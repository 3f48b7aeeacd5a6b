#!/bin/sh
set -eu
export GH_PAT=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
curl -u deploy:IJyvru+4u6rRSI https://registry.internal/v2/
git clone https://ci-bot: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@github.com/acme/app.git
export GOOGLE_CLIENT_SECRET=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
mysql "mysql://root:lMQASH#i7ouLtn@10.0.3.7:3306/crm"
echo done
