terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # Remote state: copy backend.tf.example to backend.tf (S3, encrypted, locked) before
  # `terraform init`.
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "paas"
      Environment = "staging"
      ManagedBy   = "terraform"
    }
  }
}
