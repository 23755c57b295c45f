// Activation.swift: the four activation functions a layer may use.
//
// network3.py offers sigmoid, tanh, ReLU and linear (identity).  The maths
// lives in the C kernels; this type names the choice and maps it to the C
// enum.  Its raw values are the spellings the CLI accepts.

import CKernels

/// The nonlinearity a layer applies after adding its bias.
public enum Activation: String, CaseIterable, Sendable, Codable {
    /// The logistic function 1 / (1 + e^-x), the seed's default.
    case sigmoid
    /// The hyperbolic tangent.
    case tanh
    /// The rectified linear unit max(0, x), the seed's choice for its best networks.
    case relu
    /// The identity: no nonlinearity.
    case linear

    var kernelCode: ck_activation {
        switch self {
        case .sigmoid: return CK_ACT_SIGMOID
        case .tanh: return CK_ACT_TANH
        case .relu: return CK_ACT_RELU
        case .linear: return CK_ACT_LINEAR
        }
    }
}
