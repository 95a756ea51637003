import CKernels

/// The error every throwing MoEKit API reports: what was wrong and which argument it was.
///
/// A call that throws has written nothing to its outputs.
public enum MoEKitError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A required buffer was missing (a null pointer reached the kernels).
    case nullPointer(argument: String)
    /// A dimension, group or block size is not allowed.
    case invalidShape(argument: String, reason: String)
    /// A row stride is smaller than the row it must hold.
    case invalidStride(argument: String, reason: String)
    /// An option or enumeration value is out of range.
    case invalidValue(argument: String, reason: String)
    /// The sizes overflow the address space.
    case sizeOverflow(argument: String)
    /// The request needs an instruction set or feature this machine lacks.
    case unsupported(reason: String)
    /// Memory could not be allocated.
    case outOfMemory
    /// A buffer holds fewer elements than its shape and stride require.
    case bufferTooSmall(argument: String, required: Int, actual: Int)

    /// The argument the error is about, or `""`.
    public var argument: String {
        switch self {
        case .nullPointer(let a), .invalidShape(let a, _), .invalidStride(let a, _), .invalidValue(let a, _),
            .sizeOverflow(let a), .bufferTooSmall(let a, _, _):
            return a
        case .unsupported, .outOfMemory:
            return ""
        }
    }

    /// The argument and what was wrong with it.
    public var description: String {
        switch self {
        case .nullPointer(let a): return "\(a): required buffer is missing"
        case .invalidShape(let a, let r), .invalidStride(let a, let r), .invalidValue(let a, let r): return "\(a): \(r)"
        case .sizeOverflow(let a): return "\(a): sizes overflow the address space"
        case .unsupported(let r): return "unsupported: \(r)"
        case .outOfMemory: return "out of memory"
        case .bufferTooSmall(let a, let required, let actual):
            return "\(a): buffer holds \(actual) elements, \(required) required"
        }
    }

    /// Maps a C status to the error it stands for (`nil` for `CK_OK`), reading the C runtime's details; the
    /// argument is named as the Swift API labels it.
    init?(_ status: ck_status) {
        let argument = Self.swiftName(String(cString: ck_last_error_argument()))
        let message = String(cString: ck_last_error_message())
        switch status {
        case CK_OK: return nil
        case CK_ERR_NULL_POINTER: self = .nullPointer(argument: argument)
        case CK_ERR_INVALID_SHAPE: self = .invalidShape(argument: argument, reason: message)
        case CK_ERR_INVALID_STRIDE: self = .invalidStride(argument: argument, reason: message)
        case CK_ERR_INVALID_VALUE: self = .invalidValue(argument: argument, reason: message)
        case CK_ERR_SIZE_OVERFLOW: self = .sizeOverflow(argument: argument)
        case CK_ERR_UNSUPPORTED: self = .unsupported(reason: message)
        case CK_ERR_OUT_OF_MEMORY: self = .outOfMemory
        default: self = .unsupported(reason: "unknown status \(status.rawValue)")
        }
    }
}

extension MoEKitError {
    /// The Swift API's label for the argument the C API calls `name` (element and scale types are named after
    /// the buffer they describe).
    static func swiftName(_ name: String) -> String {
        switch name {
        case "group_sizes": "groupSizes"
        case "valid_m": "validRows"
        case "m_indices": "rowExperts"
        case "max_m": "maxRows"
        case "x_scales": "xScales"
        case "w_scales": "weightScales"
        case "dy_scales": "dyScales"
        case "w", "w_type": "weights"
        case "x_type": "x"
        case "y_type": "y"
        case "dw_type": "dw"
        case "dy_type": "dy"
        case "xt": "xT"
        case "dyt": "dyT"
        case "q": "codes"
        case "group": "groupSize"
        case "block": "blockSize"
        case "params.scale_format", "scale_format": "scales"
        case "params.format": "format"
        case "params.scaling": "scaling"
        default: name
        }
    }
}

/// Throws the error a C status stands for.
@inline(__always)
func check(_ status: ck_status) throws(MoEKitError) {
    if let error = MoEKitError(status) { throw error }
}
