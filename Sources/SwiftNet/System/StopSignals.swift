// StopSignals.swift: Ctrl-C and SIGTERM as a polite request to stop.
//
// While a run saves checkpoints, the first SIGINT or SIGTERM must not kill
// it mid-step: the C handler (CKernels' checkpoint_support.c) only records
// the signal, the training loop sees it after the current mini-batch (via
// `train`'s shouldStop) and the caller saves and exits.  A second signal
// gets the default action and ends the process at once, which atomic
// checkpoint writes make safe.

import CKernels

/// The process's SIGINT/SIGTERM stop request.
package enum StopSignals {
    /// Makes the first SIGINT or SIGTERM a stop request instead of an exit.
    /// - Throws: `TrainingError` if the handlers cannot be installed.
    package static func install() throws {
        guard ck_stop_signals_install() == 0 else {
            throw TrainingError.system("cannot install the SIGINT/SIGTERM handlers")
        }
    }

    /// The signal that asked to stop (SIGINT = 2, SIGTERM = 15), or nil.
    package static var received: Int32? {
        let signal = ck_stop_signal_received()
        return signal == 0 ? nil : signal
    }

    /// Restores the default actions and forgets any request.
    package static func uninstall() { ck_stop_signals_uninstall() }
}
