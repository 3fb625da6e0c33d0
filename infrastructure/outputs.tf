output "api_url" {
  description = "Base URL of the API."
  value       = module.api.endpoint
}

output "uploads_bucket" {
  description = "Bucket receiving CSV uploads."
  value       = module.storage.bucket_name
}

output "function_names" {
  description = "Lambda function names by function."
  value       = { for k, f in module.functions.functions : k => f.name }
}

output "migrate_function_name" {
  description = "What the deploy pipeline invokes to apply migrations."
  value       = module.functions.functions["migrate"].name
}

output "releases" {
  description = "Per function: its name and the version this apply published (what the deploy moves `live` to after migrate)."
  value       = { for k, f in module.functions.functions : k => { name = f.name, version = f.published } }
}
