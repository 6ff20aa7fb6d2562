@main struct OrderPlaceholder { static func main() {} }
