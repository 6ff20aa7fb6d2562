@main struct ShippingPlaceholder { static func main() {} }
