# The one table of functions and routes. A Rust test (tests/tests/integration/
# infrastructure.rs) parses this file and fails when it and the code disagree:
# a route the code serves that API Gateway does not send to the right
# function, a route here that no handler serves, or a function crate without
# a Lambda here.
locals {
  # The shared variables (main.tf) each function reads; *_SECRET_ID ones
  # come with `secrets`. A test checks them against what each function's
  # code reads (its ENVIRONMENT) in the applied state.
  db        = ["RUST_LOG", "SECRETS_SOURCE", "DB_HOST", "DB_PORT", "DB_NAME", "DB_TLS"]
  verifying = ["ALLOWED_ORIGINS", "AUTH_ISSUER", "AUTH_AUDIENCE"]

  functions = {
    "csv-ingest" = {
      memory_mb            = 1024
      timeout_s            = 900
      reserved_concurrency = 5 # bounds the load on the database
      secrets              = ["db_app"]
      variables            = concat(local.db, ["UPLOADS_BUCKET"])
      async                = true
      # The statement timeout ends a landing before Lambda kills it.
      environment = { DB_STATEMENT_TIMEOUT_MS = "840000", DB_POOL_MAX = "3" }
    }
    "data-upload" = {
      memory_mb            = 256
      timeout_s            = 28 # undoing a large upload (DELETE) takes seconds; API Gateway waits 29
      reserved_concurrency = 50
      secrets              = ["db_app", "auth_public_keys"]
      variables            = concat(local.db, local.verifying, ["UPLOADS_BUCKET"])
      environment          = { DB_STATEMENT_TIMEOUT_MS = "25000" }
    }
    sales = {
      memory_mb            = 256
      timeout_s            = 10
      reserved_concurrency = 50
      secrets              = ["db_app", "auth_public_keys"]
      variables            = concat(local.db, local.verifying)
    }
    auth = {
      memory_mb            = 512
      timeout_s            = 10
      reserved_concurrency = 50
      secrets              = ["db_app", "auth_keys"]
      variables            = concat(local.db, local.verifying)
    }
    health = {
      memory_mb            = 128
      timeout_s            = 10 # above the proxy's 5 s borrow timeout: a slow pool answers 503, not a killed Lambda
      reserved_concurrency = 10
      secrets              = ["db_app"]
      variables            = concat(local.db, ["ALLOWED_ORIGINS"])
    }
    migrate = {
      memory_mb            = 256
      timeout_s            = 300
      reserved_concurrency = 1
      secrets              = ["db_owner", "db_app", "auth_keys", "auth_public_keys"]
      variables            = local.db
      # Its own bounds: a migration waits for locks 10 s at most, and ends
      # before the invocation does.
      environment = { DB_STATEMENT_TIMEOUT_MS = "270000", DB_LOCK_TIMEOUT_MS = "10000" }
    }
  }

  # authorized = true puts API Gateway's JWT authorizer in front of the route;
  # the function verifies the token again either way.
  routes = {
    "GET /health"                           = { function = "health", authorized = false }
    "POST /auth/register"                   = { function = "auth", authorized = false }
    "POST /auth/login"                      = { function = "auth", authorized = false }
    "POST /auth/refresh"                    = { function = "auth", authorized = false }
    "POST /auth/logout"                     = { function = "auth", authorized = false }
    "GET /auth/me"                          = { function = "auth", authorized = true }
    "POST /uploads"                         = { function = "data-upload", authorized = true }
    "GET /uploads"                          = { function = "data-upload", authorized = true }
    "GET /uploads/{id}"                     = { function = "data-upload", authorized = true }
    "GET /uploads/{id}/errors"              = { function = "data-upload", authorized = true }
    "DELETE /uploads/{id}"                  = { function = "data-upload", authorized = true }
    "POST /uploads/{id}/url"                = { function = "data-upload", authorized = true }
    "GET /sales/summary"                    = { function = "sales", authorized = true }
    "GET /sales/items"                      = { function = "sales", authorized = true }
    "GET /sales/categories"                 = { function = "sales", authorized = true }
    "GET /sales/hours"                      = { function = "sales", authorized = true }
    "GET /sales/payments"                   = { function = "sales", authorized = true }
    "GET /sales/transactions"               = { function = "sales", authorized = true }
    "GET /sales/transactions/{id}"          = { function = "sales", authorized = true }
    "GET /.well-known/jwks.json"            = { function = "auth", authorized = false }
    "GET /.well-known/openid-configuration" = { function = "auth", authorized = false }
  }
}
