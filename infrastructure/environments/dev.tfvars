environment     = "dev"
allowed_origins = ["http://localhost:5173", "https://dev.app.flux.dev"]
# Disposable: deleted secrets go at once, so a re-created dev can reuse names.
secrets_recovery_window_days = 0
log_retention_days           = 30
