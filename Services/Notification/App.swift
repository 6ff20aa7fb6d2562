@main struct NotificationPlaceholder { static func main() {} }
