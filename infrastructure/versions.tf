terraform {
  required_version = ">= 1.10.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # bucket, key and region come from environments/<env>.s3.tfbackend.
  # S3-native state locking (a lock file next to the state); no DynamoDB table.
  backend "s3" {
    use_lockfile = true
    encrypt      = true
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "flux"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
