256 SHA256:2SKm2sR15kZHkq7legCVcX4eqVXweg6nYx0/8Y7hhqw no comment (ECDSA)
