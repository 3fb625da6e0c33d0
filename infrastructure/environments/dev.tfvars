environment     = "dev"
allowed_origins = ["http://localhost:5173", "https://dev.app.flux.dev"]
