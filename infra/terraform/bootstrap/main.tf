locals {
  pool_name = google_iam_workload_identity_pool.github.name

  apply_grants = merge([
    for env, project in var.environments : { for role in var.apply_roles : "${env}/${role}" => { env = env, project = project, role = role } }
  ]...)
  plan_grants = merge([
    for env, project in var.environments : { for role in var.plan_roles : "${env}/${role}" => { env = env, project = project, role = role } }
  ]...)
}

data "google_project" "admin" {
  project_id = var.admin_project_id
}

data "google_storage_project_service_account" "admin" {
  project = var.admin_project_id
}

resource "google_project_service" "admin" {
  for_each = toset([
    "cloudkms.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "storage.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "cloudbilling.googleapis.com",
    "billingbudgets.googleapis.com",
  ])

  project            = var.admin_project_id
  service            = each.value
  disable_on_destroy = false
}

# State is encrypted with a key of its own.
resource "google_kms_key_ring" "state" {
  project  = var.admin_project_id
  name     = "terraform-state"
  location = var.region

  depends_on = [google_project_service.admin]
}

resource "google_kms_crypto_key" "state" {
  name            = "terraform-state"
  key_ring        = google_kms_key_ring.state.id
  rotation_period = "7776000s"

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key_iam_member" "state" {
  crypto_key_id = google_kms_crypto_key.state.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${data.google_storage_project_service_account.admin.email_address}"
}

resource "google_storage_bucket" "state" {
  project                     = var.admin_project_id
  name                        = "${var.admin_project_id}-tfstate"
  location                    = var.region
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = google_kms_crypto_key.state.id
  }

  # Keep 30 old versions of each state file for 90 days.
  lifecycle_rule {
    condition {
      num_newer_versions = 30
      with_state         = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 90
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_kms_crypto_key_iam_member.state]
}

# GitHub Actions OIDC. Only this repository's tokens are accepted at all.
resource "google_iam_workload_identity_pool" "github" {
  project                   = var.admin_project_id
  workload_identity_pool_id = "github"
  display_name              = "GitHub Actions"
  description               = "OIDC tokens of ${var.github_repository}"

  depends_on = [google_project_service.admin]
}

resource "google_iam_workload_identity_pool_provider" "github" {
  project                            = var.admin_project_id
  workload_identity_pool_id          = google_iam_workload_identity_pool.github.workload_identity_pool_id
  workload_identity_pool_provider_id = "github-actions"
  display_name                       = "GitHub Actions"

  attribute_mapping = {
    "google.subject"             = "assertion.sub"
    "attribute.repository"       = "assertion.repository"
    "attribute.repository_owner" = "assertion.repository_owner"
    "attribute.ref"              = "assertion.ref"
    "attribute.environment"      = "assertion.environment"
  }
  attribute_condition = "assertion.repository == \"${var.github_repository}\""

  oidc {
    issuer_uri = "https://token.actions.githubusercontent.com"
  }
}

# One read-only and one apply identity per environment.
resource "google_service_account" "plan" {
  for_each = var.environments

  project      = var.admin_project_id
  account_id   = "tf-${each.key}-plan"
  display_name = "Terraform plan (${each.key}, read-only)"
}

resource "google_service_account" "apply" {
  for_each = var.environments

  project      = var.admin_project_id
  account_id   = "tf-${each.key}-apply"
  display_name = "Terraform apply (${each.key})"
}

# Any workflow of the repository may plan (pull requests included).
resource "google_service_account_iam_member" "plan_wif" {
  for_each = var.environments

  service_account_id = google_service_account.plan[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principalSet://iam.googleapis.com/${local.pool_name}/attribute.repository/${var.github_repository}"
}

# Only jobs bound to the GitHub environment of the same name may apply, so
# the environment's protection rules (required reviewers for prod) apply.
resource "google_service_account_iam_member" "apply_wif" {
  for_each = var.environments

  service_account_id = google_service_account.apply[each.key].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "principal://iam.googleapis.com/${local.pool_name}/subject/repo:${var.github_repository}:environment:${each.key}"
}

resource "google_project_iam_member" "apply" {
  for_each = local.apply_grants

  project = each.value.project
  role    = each.value.role
  member  = google_service_account.apply[each.value.env].member
}

resource "google_project_iam_member" "plan" {
  for_each = local.plan_grants

  project = each.value.project
  role    = each.value.role
  member  = google_service_account.plan[each.value.env].member
}

resource "google_billing_account_iam_member" "apply_budgets" {
  for_each = var.environments

  billing_account_id = var.billing_account
  role               = "roles/billing.costsManager"
  member             = google_service_account.apply[each.key].member
}

resource "google_billing_account_iam_member" "plan_budgets" {
  for_each = var.environments

  billing_account_id = var.billing_account
  role               = "roles/billing.viewer"
  member             = google_service_account.plan[each.key].member
}

# State access: apply identities read and write (and lock); plan identities
# read only, so CI plans with -lock=false.
resource "google_storage_bucket_iam_member" "state_apply" {
  for_each = var.environments

  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectUser"
  member = google_service_account.apply[each.key].member
}

resource "google_storage_bucket_iam_member" "state_plan" {
  for_each = var.environments

  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.plan[each.key].member
}
