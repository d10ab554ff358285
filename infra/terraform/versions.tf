terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
    kubernetes = {
      source  = "hashicorp/kubernetes"
      version = "~> 2.27"
    }
    helm = {
      source  = "hashicorp/helm"
      version = "~> 2.12"
    }
  }

  # State is local by default. For a team, configure a remote backend (e.g. S3 with DynamoDB locking)
  # in a backend.tf of your own; credentials come from your AWS environment, never from this repo.
}
