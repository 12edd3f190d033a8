locals {
  project_grants = merge([
    for id, w in var.workloads : { for role in w.project_roles : "${id}/${role}" => { account = id, role = role } }
  ]...)

  ksa_bindings = merge([
    for id, w in var.workloads : { for ksa in w.ksas : "${id}/${ksa}" => { account = id, ksa = ksa } }
  ]...)
}

resource "google_service_account" "this" {
  for_each = var.workloads

  project      = var.project_id
  account_id   = each.key
  display_name = each.value.display_name
  description  = "Workload Identity for ${join(", ", [for k in each.value.ksas : "${var.namespace}/${k}"])}"
}

resource "google_project_iam_member" "this" {
  for_each = local.project_grants

  project = var.project_id
  role    = each.value.role
  member  = "serviceAccount:${google_service_account.this[each.value.account].email}"
}

# Only the named Kubernetes ServiceAccounts may impersonate their Google account.
resource "google_service_account_iam_member" "workload_identity" {
  for_each = local.ksa_bindings

  service_account_id = google_service_account.this[each.value.account].name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.workload_identity_pool}[${var.namespace}/${each.value.ksa}]"
}

resource "google_project_iam_member" "iap" {
  for_each = var.iap_accessors

  project = var.project_id
  role    = "roles/iap.httpsResourceAccessor"
  member  = each.value
}
