terraform {
  required_version = ">= 1.3"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.0"
    }
  }

  # First apply runs with local state; then uncomment, set the bucket from the
  # state_bucket output in backend.hcl and run terraform init -migrate-state.
  # backend "gcs" {
  #   prefix = "bootstrap"
  # }
}

provider "google" {
  project = var.admin_project_id
  region  = var.region
}
