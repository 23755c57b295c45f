// PageHead.swift: the start of both pages, up to their own styles.
//
// The doctype, the viewport line that makes a page readable on a phone, the
// title, and the colours and width both pages share; each page goes on
// with the rest of its <style> and its body.

enum PageHead {
    /// The page's head up to inside its <style> element.
    static func html(title: String, maximumWidth: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        <style>
          :root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #f4f4f1; }
          body { margin: 0 auto; padding: 12px; max-width: \(maximumWidth); }

        """
    }
}
