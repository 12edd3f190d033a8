variable "billing_account" {
  description = "Billing account id (XXXXXX-XXXXXX-XXXXXX) that pays for the project."
  type        = string
}

variable "project_number" {
  description = "Number of the project the budget covers."
  type        = string
}

variable "display_name" {
  description = "Budget name in the billing console."
  type        = string
}

variable "amount" {
  description = "Monthly budget in whole units of currency_code."
  type        = number
}

variable "currency_code" {
  description = "Currency of the billing account."
  type        = string
  default     = "USD"
}

variable "thresholds" {
  description = "Fractions of the amount, on actual spend, that notify."
  type        = list(number)
  default     = [0.5, 0.8, 1.0]

  validation {
    condition     = length(setsubtract([0.5, 0.8, 1.0], var.thresholds)) == 0
    error_message = "The thresholds must include 0.5, 0.8 and 1.0."
  }
}

variable "notification_channel_ids" {
  description = "Cloud Monitoring notification channels (at most 5) that receive every alert."
  type        = list(string)
}
