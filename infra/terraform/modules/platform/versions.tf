terraform {
  # optional() object attributes need 1.3; the stack asks for >= 1.0.
  required_version = ">= 1.3"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 5.0"
    }
  }
}
