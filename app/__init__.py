"""ISU register: individbaserad systematisk uppföljning (ISU) av stöd till våldsutsatta vuxna."""
