variable "project_id" {
  description = "Project that hosts the load balancer pieces."
  type        = string
}

variable "name" {
  description = "Prefix of every edge resource, e.g. bro-ai-prod."
  type        = string
}

variable "ingress_address_name" {
  description = "Name of the API Ingress's global IP (deploy/ puts it in kubernetes.io/ingress.global-static-ip-name); null means <name>-ingress."
  type        = string
  default     = null
}

variable "ssl_policy_name" {
  description = "Name of the SSL policy (FrontendConfig spec.sslPolicy); null means <name>-tls12."
  type        = string
  default     = null
}

variable "security_policy_name" {
  description = "Name of the Cloud Armor policy (BackendConfig spec.securityPolicy.name); null means <name>-armor."
  type        = string
  default     = null
}

variable "assets_domain" {
  description = "Host name of the static-assets load balancer (Google-managed certificate)."
  type        = string
}

variable "static_backend_bucket_id" {
  description = "Backend bucket (Cloud CDN) that serves static assets."
  type        = string
}

variable "rate_limit_requests_per_minute" {
  description = "Requests per minute per client IP before Cloud Armor answers 429."
  type        = number
  default     = 600
}

variable "ban_requests_per_10_minutes" {
  description = "Requests per 10 minutes per client IP that trigger a ban of ban_duration_sec."
  type        = number
  default     = 3000
}

variable "ban_duration_sec" {
  description = "Ban length once the ban threshold is crossed."
  type        = number
  default     = 600
}

variable "waf_sensitivity" {
  description = "Sensitivity (paranoia level, 1-4) of the OWASP CRS preconfigured rules."
  type        = number
  default     = 1
}

variable "waf_body_exempt_path_prefix" {
  description = "Path prefix whose requests skip the body-inspecting rule sets (SQLi, XSS, LFI, RFI, RCE): the OpenAI-compatible API carries prompts that legitimately contain code and SQL. Empty string exempts nothing."
  type        = string
  default     = "/v1/"
}

variable "waf_preview" {
  description = "Run the WAF rules in preview (log only)."
  type        = bool
  default     = false
}
