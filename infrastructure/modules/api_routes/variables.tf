variable "api_id" {
  description = "The HTTP API."
  type        = string
}

variable "execution_arn" {
  description = "The API's execution ARN."
  type        = string
}

variable "issuer" {
  description = "Issuer of access tokens; its /.well-known/openid-configuration names the JWKS."
  type        = string
}

variable "audience" {
  description = "Audience of access tokens."
  type        = string
}

variable "routes" {
  description = "Route key => { function, authorized }."
  type = map(object({
    function   = string
    authorized = bool
  }))
}

variable "functions" {
  description = "Function outputs by name (name and the live alias's invoke ARN, alias_invoke)."
  type = map(object({
    name         = string
    alias_invoke = string
  }))
}
