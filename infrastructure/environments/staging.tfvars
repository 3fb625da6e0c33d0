environment     = "staging"
allowed_origins = ["https://staging.app.flux.dev"]
# Staging pages the team too: it is where a deploy is first proven.
alarm_email = "oncall-staging@flux.dev"
