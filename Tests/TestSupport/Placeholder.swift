import MoEKit
