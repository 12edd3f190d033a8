terraform {
  required_version = ">= 1.3"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.0"
    }
  }

  # State locking is built into the GCS backend. The bucket comes from
  # backend.hcl (terraform init -backend-config=backend.hcl), see
  # backend.hcl.example; one prefix per environment.
  backend "gcs" {
    prefix = "envs/stage"
  }
}

# Labels are set by each module (local.labels in modules/platform).
provider "google" {
  project               = var.project_id
  region                = var.region
  user_project_override = true
  billing_project       = var.project_id
}
