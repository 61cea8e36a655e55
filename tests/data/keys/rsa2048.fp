2048 SHA256:1tKEtgEss5xYH7JrmT7flluikygAivozfdshn5v/8RQ fixture-rsa2048 (RSA)
