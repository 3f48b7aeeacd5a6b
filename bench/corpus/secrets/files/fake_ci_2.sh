#!/bin/sh
set -eu
export GH_PAT=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
curl -u deploy:jtkSlJ&l9fNWQQ https://registry.internal/v2/
git clone https://ci-bot: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@github.com/acme/app.git
export GOOGLE_CLIENT_SECRET=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
mysql "mysql://root:ZDysVz&yHqwcMK@10.0.3.7:3306/crm"
echo done
