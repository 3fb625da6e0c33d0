environment     = "staging"
allowed_origins = ["https://staging.app.flux.dev"]
