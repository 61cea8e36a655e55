384 SHA256:Qm3i/m87yZ/70eWnlmcoqL55xUDfNuoSSxsx16NFbV8 no comment (ECDSA)
