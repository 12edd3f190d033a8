locals {
  symmetric = { for k, v in var.keys : k => v if v.purpose == "ENCRYPT_DECRYPT" }

  roles = {
    encrypters_decrypters = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    signers               = "roles/cloudkms.signerVerifier"
    viewers               = "roles/cloudkms.publicKeyViewer"
  }

  grants = merge([
    for key, spec in var.keys : merge([
      for field, role in local.roles : {
        for label, member in spec[field] : "${key}/${field}/${label}" => { key = key, role = role, member = member }
      }
    ]...)
  ]...)
}

resource "google_kms_key_ring" "this" {
  project  = var.project_id
  name     = var.key_ring_name
  location = var.location
}

resource "google_kms_crypto_key" "this" {
  for_each = var.keys

  name            = each.key
  key_ring        = google_kms_key_ring.this.id
  purpose         = each.value.purpose
  rotation_period = each.value.purpose == "ENCRYPT_DECRYPT" ? each.value.rotation_period : null
  labels          = var.labels

  version_template {
    algorithm        = each.value.algorithm
    protection_level = each.value.protection_level
  }

  lifecycle {
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key_iam_member" "this" {
  for_each = local.grants

  crypto_key_id = google_kms_crypto_key.this[each.value.key].id
  role          = each.value.role
  member        = each.value.member
}
