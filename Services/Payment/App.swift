@main struct PaymentPlaceholder { static func main() {} }
