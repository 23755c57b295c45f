"""serve_page_test.py: `cnn serve`'s page and `cnn train --serve`'s, in headless Chromium.

Run by scripts/test-browser.sh, which installs Chromium, chromium-driver and
Selenium, trains the model and passes the paths.  It checks what a person
would: on the drawing page, strokes of a "1" and of a "7" drawn with
pointer events (Selenium's W3C actions, as a mouse) make the page show that
digit as its top class; a test digit's PNG chosen in the file input gets
the same three classes and percentages as `cnn predict` prints for that
file; at a phone's width the page fits without scrolling sideways.  It
takes the README's screenshot.  On the live page of a 2-epoch `cnn train
--serve`, the browser receives one event per epoch and shows the run
finished.  Every failure is one line naming the check, and a non-zero exit.

Usage: serve_page_test.py --cnn CNN --model M.ckpt --data mnist.pkl.gz --work DIR [--screenshot OUT.png]
"""
import argparse
import gzip
import os
import pickle
import re
import struct
import subprocess
import sys
import time
import zlib

from selenium import webdriver
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


class Failure(Exception):
    pass


def check(condition, what):
    if not condition:
        raise Failure(what)
    print(f"ok: {what}")


def png_bytes(pixels, width, height):
    """An 8-bit gray PNG of row-major bytes."""
    rows = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def start(command, stream, pattern, timeout=120):
    """Starts `command` and returns (process, URL) once `stream` ("stdout" or "stderr") prints a URL."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pipe = process.stdout if stream == "stdout" else process.stderr
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = pipe.readline()
        if not line:
            break
        match = re.search(pattern, line)
        if match:
            return process, match.group(0)
    process.kill()
    raise Failure(f"{' '.join(command)} printed no URL: {process.stderr.read() if stream == 'stdout' else ''}")


def browser(width, height):
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}",
                     "--no-proxy-server"]:
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"), options=options)


def draw(driver, strokes):
    """Draws strokes on the pad: each a list of (x, y) in 0...1 of its size, as mouse drags."""
    pad = driver.find_element(By.ID, "pad")
    box = pad.rect
    before = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-requests"))
    actions = ActionBuilder(driver, mouse=PointerInput("mouse", "mouse"))
    for stroke in strokes:
        points = []
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:]):
            points += [(x0 + (x1 - x0) * t / 12, y0 + (y1 - y0) * t / 12) for t in range(12)]
        points.append(stroke[-1])
        actions.pointer_action.move_to_location(int(box["x"] + points[0][0] * box["width"]), int(box["y"] + points[0][1] * box["height"]))
        actions.pointer_action.pointer_down()
        for x, y in points[1:]:
            actions.pointer_action.move_to_location(int(box["x"] + x * box["width"]), int(box["y"] + y * box["height"]))
            actions.pointer_action.pause(0.01)
        actions.pointer_action.pointer_up()
    actions.perform()
    # The last stroke's answer: a request sent after the drawing ended has come back.
    WebDriverWait(driver, 10).until(
        lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-requests")) > before
        and d.execute_script("return !inFlight && !dirty"))
    time.sleep(0.3)
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !inFlight && !dirty"))
    return driver.find_element(By.ID, "top-class").text, driver.find_element(By.ID, "top-prob").text


def drawing_page(args, digit_png, digit_label):
    serve, url = start([args.cnn, "serve", "--model", args.model, "--port", "0"], "stdout", r"http://127\.0\.0\.1:\d+/")
    driver = browser(1000, 900)
    try:
        driver.get(url)
        WebDriverWait(driver, 10).until(lambda d: "SwiftNet" in d.find_element(By.ID, "model").text)
        check("conv" in driver.find_element(By.ID, "model").text, "the page names the model it serves")

        one, probability = draw(driver, [[(0.5, 0.15), (0.5, 0.85)]])
        check(one == "1", f'a drawn "1" is read as 1 (the page shows {one}, {probability})')
        driver.find_element(By.ID, "clear").click()
        seven, probability = draw(driver, [[(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)]])
        check(seven == "7", f'a drawn "7" is read as 7 (the page shows {seven}, {probability})')
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
        check(len(bars) == 10, "a bar for every class")
        check(driver.execute_script("return lastAnswer.view.width === 28 && lastAnswer.view.pixels.length === 784"),
              "the page has the 28x28 view the network saw")
        driver.find_element(By.ID, "clear").click()
        seven_again, _ = draw(driver, [[(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)]])
        if args.screenshot:
            driver.save_screenshot(args.screenshot)
            print(f"ok: screenshot written to {args.screenshot}")

        path = os.path.join(args.work, "test-digit.png")
        with open(path, "wb") as out:
            out.write(digit_png)
        printed = subprocess.run([args.cnn, "predict", "--model", args.model, path], capture_output=True, text=True, check=True).stdout
        expected = [(name, float(percent)) for name, percent in re.findall(r"(\S+) \(([\d.]+)%\)", printed.split(": ", 1)[1])]
        before = int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-requests"))
        driver.find_element(By.ID, "file").send_keys(path)
        WebDriverWait(driver, 10).until(lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-requests")) > before)
        shown = driver.execute_script("return lastAnswer.predictions.slice(0, 3).map(p => [p.name, 100 * p.probability])")
        check([name for name, _ in shown] == [name for name, _ in expected]
              and all(abs(got - want) <= 0.051 for (_, got), (_, want) in zip(shown, expected)),
              f"an uploaded test digit (label {digit_label}) gets cnn predict's answer: page {shown}, cnn predict {expected}")
        check(driver.find_element(By.ID, "top-class").text == expected[0][0], "the page shows cnn predict's top class for the file")

        driver.set_window_size(390, 844)
        time.sleep(0.3)
        fits = driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1")
        pad_width = driver.execute_script("return document.getElementById('pad').getBoundingClientRect().width")
        check(fits and pad_width >= 250, f"at a phone's width the page fits without sideways scrolling (pad {pad_width:.0f} px wide)")
    finally:
        driver.quit()
        serve.terminate()
        serve.wait(timeout=10)
    check(serve.returncode == 0, f"cnn serve stops with status 0 on SIGTERM (got {serve.returncode})")


def live_page(args):
    driver = browser(1000, 900)
    try:
        train, url = start([args.cnn, "train", "--data", args.data, "--epochs", "2", "--plain", "--serve", "--port", "0"],
                           "stderr", r"http://127\.0\.0\.1:\d+/")
        driver.get(url)
        WebDriverWait(driver, 120).until(lambda d: d.execute_script("return window.runFinished === true"))
        events = driver.execute_script("return window.epochEvents")
        rows = driver.find_elements(By.CSS_SELECTOR, "#epochs tr")
        check(events == 2 and len(rows) == 2, f"the live page received an event for each of 2 epochs (got {events}, {len(rows)} rows)")
        check("finished" in driver.find_element(By.ID, "state").text, "the live page shows the run finished")
        train.wait(timeout=60)
        check(train.returncode == 0, "cnn train --serve exits 0")
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cnn", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    for name in ["no_proxy", "NO_PROXY"]:
        os.environ[name] = "127.0.0.1,localhost"
    with gzip.open(args.data, "rb") as file:
        _, _, (test_x, test_y) = pickle.load(file, encoding="latin1")
    index = 3
    pixels = [min(255, int(value * 256)) for value in test_x[index]]
    try:
        drawing_page(args, png_bytes(pixels, 28, 28), int(test_y[index]))
        live_page(args)
    except Failure as failure:
        print(f"serve_page_test: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    print("serve_page_test: all browser checks passed")


if __name__ == "__main__":
    main()
