# The one table of functions and routes. A Rust test (tests/tests/integration/
# infrastructure.rs) parses this file and fails when it and the code disagree:
# a route the code serves that API Gateway does not send to the right
# function, a route here that no handler serves, or a function crate without
# a Lambda here.
locals {
  functions = {
    "csv-ingest" = {
      memory_mb            = 1024
      timeout_s            = 900
      reserved_concurrency = 5 # bounds the load on the database
      secrets              = ["db_app"]
      async                = true
      environment          = { DB_STATEMENT_TIMEOUT_MS = "900000", DB_POOL_MAX = "3" }
    }
    "data-upload" = {
      memory_mb            = 256
      timeout_s            = 28 # undoing a large upload (DELETE) takes seconds; API Gateway waits 29
      reserved_concurrency = 50
      secrets              = ["db_app"]
      environment          = { DB_STATEMENT_TIMEOUT_MS = "25000" }
    }
    auth = {
      memory_mb            = 512
      timeout_s            = 10
      reserved_concurrency = 50
      secrets              = ["db_app", "auth_keys"]
    }
    sales = {
      memory_mb            = 256
      timeout_s            = 10
      reserved_concurrency = 50
      secrets              = ["db_app"]
    }
    health = {
      memory_mb            = 128
      timeout_s            = 5
      reserved_concurrency = 10
      secrets              = ["db_app"]
    }
    migrate = {
      memory_mb            = 256
      timeout_s            = 300
      reserved_concurrency = 1
      secrets              = ["db_owner", "db_app"]
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
