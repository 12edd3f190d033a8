locals {
  buckets = {
    files = {
      location      = var.region
      storage_class = "STANDARD"
      kms_key       = var.kms_key_id
    }
    backups = {
      location      = var.backups_location
      storage_class = "STANDARD"
      kms_key       = var.backups_kms_key_id
    }
    static = {
      location      = var.region
      storage_class = "STANDARD"
      kms_key       = var.kms_key_id
    }
  }

  bindings = merge(
    { for k, m in var.files_object_admins : "files/objectAdmin/${k}" => { bucket = "files", role = "roles/storage.objectAdmin", member = m } },
    { for k, m in var.backups_writers : "backups/objectCreator/${k}" => { bucket = "backups", role = "roles/storage.objectCreator", member = m } },
    { for k, m in var.backups_writers : "backups/objectViewer/${k}" => { bucket = "backups", role = "roles/storage.objectViewer", member = m } },
    { for k, m in var.static_object_admins : "static/objectAdmin/${k}" => { bucket = "static", role = "roles/storage.objectAdmin", member = m } },
    { for k, m in { cdn = var.cdn_fill_service_agent } : "static/objectViewer/${k}" => { bucket = "static", role = "roles/storage.objectViewer", member = "serviceAccount:${m}" } if m != null },
  )
}

resource "google_storage_bucket" "this" {
  for_each = local.buckets

  project                     = var.project_id
  name                        = "${var.name_prefix}-${each.key}"
  location                    = each.value.location
  storage_class               = each.value.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = var.labels

  versioning {
    enabled = true
  }

  encryption {
    default_kms_key_name = each.value.kms_key
  }

  soft_delete_policy {
    retention_duration_seconds = 604800
  }

  # Every bucket: drop old versions and abandoned multipart uploads.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.noncurrent_version_days
      with_state                 = "ARCHIVED"
    }
    action {
      type = "Delete"
    }
  }

  lifecycle_rule {
    condition {
      age = 1
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # Backups: colder classes as they age, then deletion.
  dynamic "lifecycle_rule" {
    for_each = each.key == "backups" ? [
      { age = 30, type = "SetStorageClass", storage_class = "NEARLINE" },
      { age = 90, type = "SetStorageClass", storage_class = "COLDLINE" },
    ] : []
    content {
      condition {
        age                   = lifecycle_rule.value.age
        matches_storage_class = lifecycle_rule.value.storage_class == "NEARLINE" ? ["STANDARD"] : ["NEARLINE"]
      }
      action {
        type          = lifecycle_rule.value.type
        storage_class = lifecycle_rule.value.storage_class
      }
    }
  }

  dynamic "lifecycle_rule" {
    for_each = each.key == "backups" ? [var.backup_retention_days] : []
    content {
      condition {
        age        = lifecycle_rule.value
        with_state = "LIVE"
      }
      action {
        type = "Delete"
      }
    }
  }
}

resource "google_storage_bucket_iam_member" "this" {
  for_each = local.bindings

  bucket = google_storage_bucket.this[each.value.bucket].name
  role   = each.value.role
  member = each.value.member
}

resource "google_compute_backend_bucket" "static" {
  project          = var.project_id
  name             = "${var.name_prefix}-static"
  description      = "Static assets behind Cloud CDN."
  bucket_name      = google_storage_bucket.this["static"].name
  enable_cdn       = true
  compression_mode = "AUTOMATIC"

  cdn_policy {
    cache_mode                   = "CACHE_ALL_STATIC"
    default_ttl                  = 3600
    client_ttl                   = 3600
    max_ttl                      = 86400
    serve_while_stale            = 86400
    negative_caching             = true
    request_coalescing           = true
    signed_url_cache_max_age_sec = 3600
  }
}
