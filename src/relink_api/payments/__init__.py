"""New bank account → ACH payment method: SetupIntents and the payment methods they make."""
