print("cnn")
