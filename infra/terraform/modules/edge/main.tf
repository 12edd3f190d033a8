locals {
  exempt = var.waf_body_exempt_path_prefix == "" ? "" : " && !request.path.startsWith('${var.waf_body_exempt_path_prefix}')"

  # OWASP Core Rule Set 3.3 rule sets of Cloud Armor, by priority.
  waf_rules = {
    1000 = { set = "sqli-v33-stable", body = true }
    1001 = { set = "xss-v33-stable", body = true }
    1002 = { set = "lfi-v33-stable", body = true }
    1003 = { set = "rfi-v33-stable", body = true }
    1004 = { set = "rce-v33-stable", body = true }
    1005 = { set = "methodenforcement-v33-stable", body = false }
    1006 = { set = "scannerdetection-v33-stable", body = false }
    1007 = { set = "protocolattack-v33-stable", body = false }
    1008 = { set = "sessionfixation-v33-stable", body = false }
  }
}

# Global IP of the GKE Ingress (annotation kubernetes.io/ingress.global-static-ip-name).
resource "google_compute_global_address" "ingress" {
  project      = var.project_id
  name         = coalesce(var.ingress_address_name, "${var.name}-ingress")
  address_type = "EXTERNAL"
  ip_version   = "IPV4"
}

# TLS 1.2+ with the RESTRICTED cipher profile (FrontendConfig sslPolicy and
# the assets proxy).
resource "google_compute_ssl_policy" "this" {
  project         = var.project_id
  name            = coalesce(var.ssl_policy_name, "${var.name}-tls12")
  min_tls_version = "TLS_1_2"
  profile         = "RESTRICTED"
}

# Referenced by the BackendConfig securityPolicy of the API service.
resource "google_compute_security_policy" "this" {
  project     = var.project_id
  name        = coalesce(var.security_policy_name, "${var.name}-armor")
  description = "OWASP CRS, per-IP rate limit with ban, adaptive protection."
  type        = "CLOUD_ARMOR"

  adaptive_protection_config {
    layer_7_ddos_defense_config {
      enable = true
    }
  }

  advanced_options_config {
    json_parsing = "STANDARD"
    log_level    = "NORMAL"
  }

  dynamic "rule" {
    for_each = local.waf_rules
    content {
      priority    = rule.key
      action      = "deny(403)"
      preview     = var.waf_preview
      description = "OWASP CRS ${rule.value.set}"
      match {
        expr {
          expression = "evaluatePreconfiguredWaf('${rule.value.set}', {'sensitivity': ${var.waf_sensitivity}})${rule.value.body ? local.exempt : ""}"
        }
      }
    }
  }

  rule {
    priority    = 2000
    action      = "rate_based_ban"
    description = "Per-IP rate limit; sustained abuse is banned."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
    rate_limit_options {
      conform_action   = "allow"
      exceed_action    = "deny(429)"
      enforce_on_key   = "IP"
      ban_duration_sec = var.ban_duration_sec
      rate_limit_threshold {
        count        = var.rate_limit_requests_per_minute
        interval_sec = 60
      }
      ban_threshold {
        count        = var.ban_requests_per_10_minutes
        interval_sec = 600
      }
    }
  }

  rule {
    priority    = 2147483647
    action      = "allow"
    description = "Default: allow what the rules above did not stop."
    match {
      versioned_expr = "SRC_IPS_V1"
      config {
        src_ip_ranges = ["*"]
      }
    }
  }
}

# Static assets: a small load balancer of its own, since the API's URL map
# belongs to the GKE Ingress controller.
resource "google_compute_global_address" "assets" {
  project      = var.project_id
  name         = "${var.name}-assets"
  address_type = "EXTERNAL"
  ip_version   = "IPV4"
}

resource "google_compute_managed_ssl_certificate" "assets" {
  project = var.project_id
  name    = "${var.name}-assets"

  managed {
    domains = [var.assets_domain]
  }
}

resource "google_compute_url_map" "assets" {
  project         = var.project_id
  name            = "${var.name}-assets"
  default_service = var.static_backend_bucket_id
}

resource "google_compute_target_https_proxy" "assets" {
  project          = var.project_id
  name             = "${var.name}-assets"
  url_map          = google_compute_url_map.assets.id
  ssl_certificates = [google_compute_managed_ssl_certificate.assets.id]
  ssl_policy       = google_compute_ssl_policy.this.id
}

resource "google_compute_global_forwarding_rule" "assets_https" {
  project               = var.project_id
  name                  = "${var.name}-assets-https"
  target                = google_compute_target_https_proxy.assets.id
  ip_address            = google_compute_global_address.assets.address
  port_range            = "443"
  ip_protocol           = "TCP"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}

resource "google_compute_url_map" "assets_redirect" {
  project = var.project_id
  name    = "${var.name}-assets-redirect"

  default_url_redirect {
    https_redirect         = true
    strip_query            = false
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
  }
}

resource "google_compute_target_http_proxy" "assets_redirect" {
  project = var.project_id
  name    = "${var.name}-assets-redirect"
  url_map = google_compute_url_map.assets_redirect.id
}

resource "google_compute_global_forwarding_rule" "assets_http" {
  project               = var.project_id
  name                  = "${var.name}-assets-http"
  target                = google_compute_target_http_proxy.assets_redirect.id
  ip_address            = google_compute_global_address.assets.address
  port_range            = "80"
  ip_protocol           = "TCP"
  load_balancing_scheme = "EXTERNAL_MANAGED"
}
